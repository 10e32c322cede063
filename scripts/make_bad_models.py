"""Writes tiny ONNX graphs that lexalign must reject with a clear error
(tests/fixtures/bad_models/). Run with the project venv: .venv/bin/python scripts/make_bad_models.py"""
import os
import onnx
from onnx import TensorProto, helper

out = os.path.join(os.path.dirname(__file__), "..", "tests", "fixtures", "bad_models")
os.makedirs(out, exist_ok=True)

def save(name, inputs, outputs, nodes, initializers=()):
    g = helper.make_graph(nodes, name, inputs, outputs, initializer=list(initializers))
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])
    m.ir_version = 8
    onnx.checker.check_model(m)
    onnx.save(m, os.path.join(out, name + ".onnx"))

# An image model: its input cannot be fed from a tokenizer.
save("unexpected_input",
     [helper.make_tensor_value_info("pixel_values", TensorProto.FLOAT, ["b", 3, 224, 224])],
     [helper.make_tensor_value_info("last_hidden_state", TensorProto.FLOAT, ["b", 3, 224, 224])],
     [helper.make_node("Identity", ["pixel_values"], ["last_hidden_state"])])
# Takes input_ids but has no usable output name and no rank-3 output.
save("no_hidden_output",
     [helper.make_tensor_value_info("input_ids", TensorProto.INT64, ["b", "s"])],
     [helper.make_tensor_value_info("logits", TensorProto.INT64, ["b", "s"])],
     [helper.make_node("Identity", ["input_ids"], ["logits"])])
# Output width follows the sequence length ([b, s, s]): no fixed vector size.
save("width_follows_length",
     [helper.make_tensor_value_info("input_ids", TensorProto.INT64, ["b", "s"])],
     [helper.make_tensor_value_info("last_hidden_state", TensorProto.FLOAT, ["b", "s", "s"])],
     [helper.make_node("Cast", ["input_ids"], ["f"], to=TensorProto.FLOAT),
      helper.make_node("Unsqueeze", ["f", "ax2"], ["col"]),
      helper.make_node("Unsqueeze", ["f", "ax1"], ["row"]),
      helper.make_node("Mul", ["col", "row"], ["last_hidden_state"])],
     [helper.make_tensor("ax2", TensorProto.INT64, [1], [2]),
      helper.make_tensor("ax1", TensorProto.INT64, [1], [1])])
print("wrote", sorted(os.listdir(out)))
