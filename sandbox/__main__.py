"""`python -m sandbox`: every reference backend, each in its own process."""

from sandbox.runner import run_all

if __name__ == "__main__":
    raise SystemExit(run_all())
