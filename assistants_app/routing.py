"""The app's URL rules: werkzeug's, with their URL builders made when first used.

werkzeug writes two builder functions for every rule as it is added (Python source, compile(), exec):
~20 ms of an app's creation for its 64 rules (27 ms -> 7 ms), though almost no request builds a URL
(url_for: flask-smorest's API docs pages, for the spec's). Each suite test, and each worker at boot,
made them all. A rule's builder is now compiled the first time that rule builds a URL, exactly as
werkzeug would have compiled it when the rule was added."""
from werkzeug.routing import Rule


class LazyBuildRule(Rule):
    def _compile_builder(self, append_unknown: bool = True):
        compile_now = super()._compile_builder
        builder = None

        def build(rule, /, **values):
            nonlocal builder
            if builder is None:
                builder = compile_now(append_unknown)
            return builder(rule, **values)
        return build
