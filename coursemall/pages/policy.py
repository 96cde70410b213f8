"""(issue 5: being built)"""
