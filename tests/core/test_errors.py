"""InputError is one line, whatever a library's message held."""
from signverse.core.errors import InputError


def test_a_library_message_with_newlines_becomes_one_line():
    """Found by fuzzing: a byte-flipped Parquet shard gave "... (Couldn't deserialize thrift:
    TProtocolException: Invalid data\\n)", printed by the CLI as two lines."""
    exc = InputError("shard.parquet", "corrupt (Couldn't deserialize thrift: Invalid data\n)")
    assert str(exc) == "shard.parquet: corrupt (Couldn't deserialize thrift: Invalid data )"
    assert exc.problem == "corrupt (Couldn't deserialize thrift: Invalid data )" and exc.path == "shard.parquet"
    assert str(InputError(None, "a\n\n  b  ")) == "a b"
