"""``carpass demo``'s progress: redrawn in place on a terminal, a line every few seconds in a log."""

from __future__ import annotations

import io

from streams.cli.demo import _Say


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_in_a_log_progress_is_a_line_every_few_seconds_not_carriage_returns() -> None:
    now = [0.0]
    log = io.StringIO()
    say = _Say(log, every_s=5.0, clock=lambda: now[0])
    say("starting the worker …\n")
    for second in range(12):
        now[0] = float(second)
        say(f"\rproducing [{'#' * second}] {second}/11 (100/s)")
    say("\n")
    say("done\n")
    assert log.getvalue() == (
        "starting the worker …\n"
        "producing [] 0/11 (100/s)\n"
        "producing [#####] 5/11 (100/s)\n"
        "producing [##########] 10/11 (100/s)\n"
        "done\n"
    )


def test_on_a_terminal_the_bar_is_redrawn_in_place() -> None:
    terminal = Terminal()
    say = _Say(terminal, every_s=5.0, clock=lambda: 0.0)
    say("\rproducing 1/2")
    say("\rproducing 2/2")
    say("\n")
    assert terminal.getvalue() == "\rproducing 1/2\rproducing 2/2\n"
