"""The set-up steps of `make run`/`make test` (scripts/step.sh): one progress line each, with its time;
the full output in a log file, printed only when the step fails."""

import subprocess
from pathlib import Path

STEP = Path(__file__).resolve().parents[1] / "scripts" / "step.sh"


def run_step(tmp_path, command):
    log = tmp_path / "logs" / "step.log"
    done = subprocess.run(["bash", str(STEP), "compiling things", str(log), "bash", "-c", command],
                          capture_output=True, text=True)
    return done, log


def test_a_step_that_succeeds_prints_one_line_and_keeps_its_output_in_the_log(tmp_path):
    done, log = run_step(tmp_path, "for i in $(seq 50); do echo build line $i; done")
    assert done.returncode == 0
    lines = done.stdout.splitlines()
    assert len(lines) == 1 and "compiling things" in lines[0] and " done in " in lines[0], lines
    assert " s (log: " in lines[0]
    assert log.read_text().count("build line") == 50


def test_a_step_that_fails_prints_its_whole_log_and_keeps_the_exit_code(tmp_path):
    done, log = run_step(tmp_path, "echo first; echo 'error: no such header' >&2; exit 7")
    assert done.returncode == 7
    assert "FAILED" in done.stdout and "exit 7" in done.stdout
    assert "first" in done.stdout and "error: no such header" in done.stdout
    assert "error: no such header" in log.read_text()
