"""`python -m bench` (`make bench`); see bench/__init__.py for what is measured."""

# Guarded: the load client's processes are started with "spawn", which imports this module
# again in each of them, and they must not run the benchmark.
if __name__ == "__main__":
    from bench.run import main

    main()
