"""Deploying and rolling back with CodeDeploy, one job per module: ``options`` (what the user
asked, checked), ``create`` (CreateDeployment, waiting out another active deployment),
``follow`` (watch one deployment to its verdict), ``regions`` (fan out over regions, collect the
outcome), ``deploy`` and ``rollback`` (the two verbs' orchestration)."""
