"""ci-deploy: ship applications with AWS CodeDeploy from any CI system."""

__version__ = "0.1.0"
