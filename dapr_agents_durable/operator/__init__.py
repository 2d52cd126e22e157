"""Operating durable runs from the command line: ``dapr-agents-durable runs``.

Example::

    dapr-agents-durable runs list --status RUNNING
    dapr-agents-durable runs show refund-7
"""
