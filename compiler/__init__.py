"""The compiler: semantic checks, mapping lowering and code generation, the bundle writer."""
