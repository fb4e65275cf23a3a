"""Names of the import formats, in a module of their own so the CLI's help lists them without loading readers."""

IMPORT_FORMATS = (
    "prompts",
    "csv",
    "openai-chat",
    "hh-rlhf",
    "oasst",
    "oasst-tree",
    "trl-preference",
    "openai-preference",
)
