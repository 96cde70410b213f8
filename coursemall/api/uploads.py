"""(issue 5: being built)"""

ROUTES: list = []
