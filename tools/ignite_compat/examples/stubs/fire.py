"""Minimal stand-in for python-fire: Fire({"cmd": fn}) with `cmd --key=value ...`."""

import ast
import sys


def _val(s):
    try:
        return ast.literal_eval(s)
    except Exception:
        return s


def Fire(component, command=None):
    argv = list(sys.argv[1:] if command is None else command)
    fn = component
    if isinstance(component, dict):
        fn = component[argv.pop(0)]
    args, kwargs = [], {}
    i = 0
    while i < len(argv):
        a = argv[i]
        if a.startswith("--"):
            k = a[2:]
            if "=" in k:
                k, v = k.split("=", 1)
            elif i + 1 < len(argv) and not argv[i + 1].startswith("--"):
                i += 1
                v = argv[i]
            else:
                v = "True"
            kwargs[k.replace("-", "_")] = _val(v)
        else:
            args.append(_val(a))
        i += 1
    res = fn(*args, **kwargs)
    if res is not None:
        print(res)
    return res
