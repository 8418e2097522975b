"""TensorLogic language server (pygls); translates between LSP and tl_core."""
