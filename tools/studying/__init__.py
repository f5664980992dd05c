"""tools/study.py's parts: the plan file (``plan``), the reuse of run
records (``records``) and the report (``report``). Not part of the
installed package."""
