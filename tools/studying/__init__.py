"""tools/study.py's parts: the plan file (``plan``) and the report
(``report``). Not part of the installed package."""
