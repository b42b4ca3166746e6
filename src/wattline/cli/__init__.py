"""The ``wattline`` command: parse flags, turn them into settings once, call the runtime.

``main`` holds the app and ``up``, ``collect``, ``simulate``, ``version``; each
sub-command group has its module (``quarantine``, ``retention``, ``archive``,
``transfer``); ``options`` holds the flags several commands share.
"""
