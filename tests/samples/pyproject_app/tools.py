def unused():
    return "a second top-level module"
