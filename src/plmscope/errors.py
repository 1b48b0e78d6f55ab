"""One exception type for every user-facing failure, printed by the CLI as a single line."""


class PlmscopeError(Exception):
    """A problem with the user's input, config or environment.

    The message is one line that names the file (or model, or config key) and the problem,
    e.g. ``"data/x.fasta: record 'p1' has unknown residue 'J' at position 17"``.
    """

    def __init__(self, message: str):
        super().__init__(" ".join(str(message).split()))


def located(path, problem: str) -> PlmscopeError:
    """Build a PlmscopeError of the form ``"<path>: <problem>"``."""
    return PlmscopeError(f"{path}: {problem}")
