"""The only package that imports boto3/botocore: clients, retries and error translation."""
