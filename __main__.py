"""`pulumi up -s dev|staging|prod`: TraderX on Kubernetes with ConfigHub as source of truth."""

from components.stack.program import main

main()
