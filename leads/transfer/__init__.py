"""Import and export of leads.

Import: ``reading`` (files → rows of text), ``mapping`` (columns → fields, options), ``jobs`` (the
job's life and entry points), ``rows`` and ``importer`` (validate and write, all or nothing),
``revert``. Export: ``cells`` (columns, cell values, formula neutralisation and its undo),
``writers`` (CSV / JSON / XLSX with flat memory), ``exports`` (runs, templates), ``schedules``.
Doors: ``views``, ``forms``, ``api``, ``admin``, ``tasks`` (django-q2).
"""
