"""Source-system sync: connectors fetch records, mapping turns them into facts, pull runs
every source concurrently. Flask-free; the server reaches it through server/services/pull.py.
(server/ledger/ is the git history of submitted periods, a separate concern.)"""
