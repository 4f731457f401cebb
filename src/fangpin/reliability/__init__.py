"""Reliability and security checks (issue 7): the access matrix, importer fuzzing inputs, kill -9 crash trials and
the load generator. Run them with `make reliability`; see docs/RELIABILITY.md."""
