"""A text progress bar for the sync commands."""

BAR_WIDTH = 30


class ProgressBar:
    """`[######........] 3/10 Client name` on stderr: redrawn in place on a terminal, one line
    per project otherwise (logs, pipes)."""

    def __init__(self, stream, width: int = BAR_WIDTH):
        self.stream = stream
        self.width = width
        self.total = 0
        self.done = 0
        self.in_place = stream.isatty()
        self._drawn = 0

    def __call__(self, name: str, done: int, total: int) -> None:
        self.done, self.total = done, total
        filled = self.width * done // total if total else self.width
        line = f"[{'#' * filled}{'.' * (self.width - filled)}] {done}/{total} {name}"
        if self.in_place:
            self._write("\r" + line.ljust(self._drawn))
            self._drawn = len(line)
        else:
            self._write(line + "\n")

    def finish(self) -> None:
        if self.in_place and self._drawn:
            self._write("\n")
            self._drawn = 0

    def _write(self, text: str) -> None:
        self.stream.write(text, style_func=str, ending="")
        self.stream.flush()
