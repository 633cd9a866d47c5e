"""Shared runtime code for the payment validator and health Lambda functions.

Layout ("thin handler, pure core"):

* ``currencies`` - ISO 4217 minor-unit table (pure data).
* ``core``       - request parsing, validation and money rules (pure, no AWS).
* ``settings``   - environment configuration, read and validated once.
* ``clients``    - lazily created, region-pinned boto3 clients (resettable for tests).
* ``store``      - DynamoDB record + S3 receipt writes (the only code with side effects).
* ``responses``  - JSON error/success responses for the API Gateway resolver.
"""
