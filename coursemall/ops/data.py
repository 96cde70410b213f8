"""backup / restore / export (issue 5: being built)."""


def main(name: str, argv: list[str]) -> int:
    print(f"{name}: not built yet")
    return 2
