"""The emulator's smoke test (emulator/selftest.py) under pytest.

One launcher for the module (provisioned with emulator/testdata/template.yaml, IAM enforced, no
function host unless --selftest-function-host), every check of selftest.run() against it, then one
test per section of checks: a failing section lists its failed checks with their details. By hand,
`.venv/bin/python emulator/selftest.py [--no-function-host]` runs the same checks with a plain report.
"""
import os
import sys

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
import selftest  # noqa: E402

FUNCTION_HOST_SECTIONS = {"Lambda Invoke through the function host", "Step Functions -> Lambda"}


@pytest.fixture(scope="module")
def outcome(request):
    with_fh = request.config.getoption("--selftest-function-host")
    iam = not request.config.getoption("--selftest-no-iam")
    rc = selftest.run(tiny_dir=request.config.getoption("--selftest-tiny-dir"), with_fh=with_fh, iam=iam)
    return {"rc": rc, "results": list(selftest.RESULTS), "with_fh": with_fh, "iam": iam}


@pytest.mark.parametrize("section", selftest.SECTIONS)
def test_section(outcome, section):
    if section in FUNCTION_HOST_SECTIONS and not outcome["with_fh"]:
        pytest.skip("needs the function host (--selftest-function-host)")
    if section == "IAM enforcement" and not outcome["iam"]:
        pytest.skip("IAM not enforced (--selftest-no-iam)")
    results = [r for r in outcome["results"] if r[0] == section]
    failed = [f"{name}: {detail}" for _, name, ok, detail in results if not ok]
    assert not failed, f"{len(failed)} of {len(results)} checks failed:\n" + "\n".join(failed)
    assert results, "no check ran in this section (did an earlier one raise?)"


def test_run_result_matches_checks(outcome):
    sections = {r[0] for r in outcome["results"]}
    assert sections <= set(selftest.SECTIONS), sections - set(selftest.SECTIONS)
    failed = [name for _, name, ok, _ in outcome["results"] if not ok]
    assert outcome["rc"] == (1 if failed else 0), (outcome["rc"], failed)
