def pytest_configure(config):
    config.addinivalue_line("markers", "jvm: starts Flink MiniClusters (slow; part of `make test`)")
