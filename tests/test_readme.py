"""The README's commands stay true: every script it calls exists and accepts every flag it shows.

What the commands *do* is tested where the tools are tested (tests/tools/, tests/test_tools_evaluate.py)
and by `make demo`, which runs track_video.py and evaluate.py as the README shows them.
"""
import re
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).parents[1]
README = (REPO / "README.md").read_text()


def readme_commands():
    blocks = re.findall(r"```bash\n(.*?)```", README, flags=re.S)
    text = "\n".join(blocks).replace("\\\n", " ")
    return [line.split("#")[0].strip() for line in text.splitlines() if line.strip()]


def test_make_targets_exist():
    makefile = (REPO / "Makefile").read_text()
    targets = {word for command in readme_commands() if command.startswith("make ")
               for word in command.split()[1:] if "=" not in word}
    assert targets, "the README shows make commands"
    for target in targets:
        assert re.search(rf"^{target}:", makefile, flags=re.M), f"Makefile has no target '{target}'"


def test_every_script_flag_is_accepted():
    scripts = {}
    for command in readme_commands():
        match = re.match(r"python (\S+\.py)(.*)", command)
        if match:
            scripts.setdefault(match.group(1), set()).update(re.findall(r"(?<!\S)(--[a-z][a-z-]*)", match.group(2)))
    assert {"tools/train_net.py", "tools/track_video.py", "tools/evaluate.py"} <= set(scripts)
    for script, flags in scripts.items():
        assert (REPO / script).exists(), script
        result = subprocess.run([sys.executable, str(REPO / script), "--help"], capture_output=True, text=True,
                                cwd=REPO)
        assert result.returncode == 0, result.stderr[-2000:]
        for flag in flags:
            assert flag in result.stdout, f"README passes {flag} to {script}, which does not accept it"
