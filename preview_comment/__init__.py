"""Pull-request preview comments: render `pulumi preview --json` plus the engine event log's
policy events into one Markdown comment per project+stack, and post or update it on GitHub.

`python -m preview_comment render|post|publish|stacks|ci --help`.
"""
