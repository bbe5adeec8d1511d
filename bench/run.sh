#!/bin/sh
# Runs the benchmark from the repository root with the project's venv: bench/run.sh --help
cd "$(dirname "$0")/.." && exec "${PYTHON:-.venv/bin/python}" -m bench "$@"
