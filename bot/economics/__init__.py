"""Pure miner-economics maths: no I/O, units in every name, sources in every docstring.

References: Bitcoin Core consensus code (https://github.com/bitcoin/bitcoin), the Bitcoin wiki, and the public
sources each module's docstrings cite.
"""
