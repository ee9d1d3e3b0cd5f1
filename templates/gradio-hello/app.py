"""Built-in template: a Gradio app.

slipway sets PORT, GRADIO_SERVER_NAME, GRADIO_SERVER_PORT and
GRADIO_ROOT_PATH (the public prefix /apps/<id>) in the environment, so
launch() needs no arguments behind the proxy; they are passed explicitly
here so the app also runs on its own (python app.py).
"""
import os

import gradio as gr


def greet(name: str, excitement: int) -> str:
    name = name.strip() or "world"
    return "Hello, " + name + "!" * int(excitement)


def reverse(text: str) -> str:
    return text[::-1]


with gr.Blocks(title="slipway gradio-hello") as demo:
    gr.Markdown("# Hello from Gradio\nA template to start from.")
    with gr.Tab("Greet"):
        name = gr.Textbox(label="Name", placeholder="world")
        excitement = gr.Slider(1, 5, value=1, step=1, label="Excitement")
        greeting = gr.Textbox(label="Greeting")
        gr.Button("Greet").click(greet, [name, excitement], greeting)
    with gr.Tab("Reverse"):
        text = gr.Textbox(label="Text")
        out = gr.Textbox(label="Reversed")
        text.change(reverse, text, out)

if __name__ == "__main__":
    demo.queue().launch(
        server_name=os.environ.get("GRADIO_SERVER_NAME", "0.0.0.0"),
        server_port=int(os.environ.get("PORT", "7860")),
        root_path=os.environ.get("GRADIO_ROOT_PATH", ""),
    )
