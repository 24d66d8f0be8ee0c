"""The original's reading: ``universe = 42``, as a sensor, to test the whole path."""


class Constant:
    def __init__(self, spec, ctx):
        self.metric = spec.get("metric", "universe")
        self.value = spec.get("value", 42)
        self.name = "constant " + self.metric

    def read(self):
        return [(self.metric, self.value)]
