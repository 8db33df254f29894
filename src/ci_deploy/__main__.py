"""Entry point for ``python -m ci_deploy``."""

from ci_deploy.cli import main

if __name__ == "__main__":
    main()
