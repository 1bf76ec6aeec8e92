"""Tools for people, above the compiler and the runtime: `test`, `explain`, `diff`, `import`.

They may import schema, compiler and runtime; none of those imports them.
"""
