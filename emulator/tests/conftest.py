"""pytest options for the emulator's tests."""


def pytest_addoption(parser):
    group = parser.getgroup("selftest", "emulator/selftest.py under pytest (test_selftest.py)")
    group.addoption("--selftest-function-host", action="store_true",
                    help="also run the function host sections (builds a tiny lambda with cargo in /tmp first)")
    group.addoption("--selftest-no-iam", action="store_true",
                    help="launcher --no-iam: no IAM enforcement, its section is skipped")
    group.addoption("--selftest-tiny-dir", default="/tmp/rw-tiny-lambda",
                    help="where the tiny test lambda is built (with --selftest-function-host)")
