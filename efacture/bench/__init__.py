"""The end-to-end benchmark behind ``efacture bench`` and ``benchmarks/pipeline.py``.

It builds its own RabbitMQ vhost and PostgreSQL database, runs ``efacture up`` against them,
drives invoices through the four services, measures the broker's ceiling on the same vhost,
and removes everything at the end. Entry point: :func:`efacture.bench.runner.run`.
"""
