"""``python -m hiermodel`` is the ``hiermodel`` command."""

from .interrupt import exit_on_interrupt, raise_if_interrupted, watch_interrupts

watch_interrupts()
with exit_on_interrupt(always=True):      # Ctrl-C at any moment: one line, exit 130
    from .cli import command

    raise_if_interrupted()                # one that an imported library swallowed

command()
