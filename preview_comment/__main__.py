from preview_comment.cli import app

app(prog_name="python -m preview_comment")
