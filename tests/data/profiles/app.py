import json


def parse(text):
    return json.loads(text)


def render(rows):
    out = ""
    for r in rows:
        out += str(r)
    return out


def main():
    rows = [parse("[1, 2, 3]") for _ in range(1000)]
    return render(rows)
