"""ci-deploy: ship applications with AWS CodeDeploy from any CI system."""

__version__ = "1.0.0"
