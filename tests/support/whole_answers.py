"""Whole, non-streamed answers in each wire format's real shape.

What servers send when they ignore ``"stream": true``: llama-cpp-python's
``chat.completion`` for a tool call (``content: null``, a legacy
``function_call`` beside ``tool_calls``, ``logprobs: null``; the shape of its
``_convert_completion_to_chat_function``), vLLM's (``reasoning_content``),
Ollama's ``/v1`` one (``tool_calls`` carrying an ``index``), and the
documented non-streaming bodies of Anthropic Messages, Gemini
``generateContent`` and the Responses API.
"""

from __future__ import annotations

from typing import Any


def llama_cpp_tool_call(name: str = "read", arguments: str = '{"path": "a.txt"}') -> dict[str, Any]:
    """llama-cpp-python's answer with one tool call and no text."""
    return {
        "id": "chatcmpl-8c3e7d0a",
        "object": "chat.completion",
        "created": 1733614667,
        "model": "qwen2.5-7b-instruct",
        "choices": [
            {
                "index": 0,
                "message": {
                    "role": "assistant",
                    "content": None,
                    "function_call": {"name": name, "arguments": arguments},
                    "tool_calls": [
                        {
                            "id": f"call__0_{name}_cmpl-1f2e",
                            "type": "function",
                            "function": {"name": name, "arguments": arguments},
                        }
                    ],
                },
                "logprobs": None,
                "finish_reason": "tool_calls",
            }
        ],
        "usage": {"prompt_tokens": 231, "completion_tokens": 19, "total_tokens": 250},
    }


def chat_completion(
    text: str, *, finish: str = "stop", prompt_tokens: int = 20, completion_tokens: int = 9
) -> dict[str, Any]:
    """A plain text ``chat.completion`` (OpenAI's documented example shape)."""
    return {
        "id": "chatcmpl-B9MBs8CjcvOU2jLn4n570S5qMJKcT",
        "object": "chat.completion",
        "created": 1741569952,
        "model": "gpt-4.1-2025-04-14",
        "choices": [
            {
                "index": 0,
                "message": {
                    "role": "assistant",
                    "content": text,
                    "refusal": None,
                    "annotations": [],
                },
                "logprobs": None,
                "finish_reason": finish,
            }
        ],
        "usage": {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens,
            "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
            "completion_tokens_details": {"reasoning_tokens": 0, "audio_tokens": 0},
        },
        "service_tier": "default",
    }


def vllm_reasoning_tool_call() -> dict[str, Any]:
    """vLLM with a reasoning parser: thinking in ``reasoning_content``, then a call."""
    return {
        "id": "chatcmpl-5d2f",
        "object": "chat.completion",
        "created": 1747000000,
        "model": "Qwen/Qwen3-8B",
        "choices": [
            {
                "index": 0,
                "message": {
                    "role": "assistant",
                    "content": None,
                    "reasoning_content": "The user wants a.txt; read it.",
                    "tool_calls": [
                        {
                            "id": "chatcmpl-tool-9a1",
                            "type": "function",
                            "function": {"name": "read", "arguments": '{"path":"a.txt"}'},
                        }
                    ],
                },
                "logprobs": None,
                "finish_reason": "tool_calls",
                "stop_reason": None,
            }
        ],
        "usage": {"prompt_tokens": 310, "total_tokens": 352, "completion_tokens": 42},
        "prompt_logprobs": None,
    }


def ollama_tool_calls() -> dict[str, Any]:
    """Ollama's ``/v1/chat/completions`` answer to a request with tools: two calls."""
    return {
        "id": "chatcmpl-719",
        "object": "chat.completion",
        "created": 1739800000,
        "model": "qwen2.5:7b",
        "system_fingerprint": "fp_ollama",
        "choices": [
            {
                "index": 0,
                "message": {
                    "role": "assistant",
                    "content": "",
                    "tool_calls": [
                        {
                            "id": "call_k3v0",
                            "index": 0,
                            "type": "function",
                            "function": {"name": "read", "arguments": '{"path":"a.txt"}'},
                        },
                        {
                            "id": "call_x8q2",
                            "index": 1,
                            "type": "function",
                            "function": {"name": "read", "arguments": '{"path":"b.txt"}'},
                        },
                    ],
                },
                "finish_reason": "tool_calls",
            }
        ],
        "usage": {"prompt_tokens": 180, "completion_tokens": 40, "total_tokens": 220},
    }


def anthropic_message(
    text: str = "I'll read it.", *, thinking: str | None = None, tool: dict[str, Any] | None = None
) -> dict[str, Any]:
    """A whole Messages answer: optional thinking, text, optional tool_use."""
    content: list[dict[str, Any]] = []
    if thinking is not None:
        content.append({"type": "thinking", "thinking": thinking, "signature": "EqQBCgIYAh"})
    if text:
        content.append({"type": "text", "text": text})
    if tool is not None:
        content.append(
            {
                "type": "tool_use",
                "id": "toolu_01A09q90qw90lq917835lq9",
                "name": tool["name"],
                "input": tool["input"],
            }
        )
    return {
        "id": "msg_01XFDUDYJgAACzvnptvVoYEL",
        "type": "message",
        "role": "assistant",
        "model": "claude-sonnet-4-5-20250929",
        "content": content,
        "stop_reason": "tool_use" if tool else "end_turn",
        "stop_sequence": None,
        "usage": {
            "input_tokens": 2095,
            "output_tokens": 503,
            "cache_creation_input_tokens": 0,
            "cache_read_input_tokens": 100,
        },
    }


def gemini_response(
    text: str = "", call: dict[str, Any] | None = None, *, finish: str = "STOP"
) -> dict[str, Any]:
    """A ``generateContent`` answer (one ``GenerateContentResponse``)."""
    parts: list[dict[str, Any]] = []
    if text:
        parts.append({"text": text})
    if call is not None:
        parts.append(
            {
                "functionCall": {"name": call["name"], "args": call["args"]},
                "thoughtSignature": "CiQB0e2Kb",
            }
        )
    return {
        "candidates": [
            {
                "content": {"parts": parts, "role": "model"},
                "finishReason": finish,
                "avgLogprobs": -0.08,
                "index": 0,
            }
        ],
        "usageMetadata": {
            "promptTokenCount": 120,
            "candidatesTokenCount": 12,
            "totalTokenCount": 152,
            "thoughtsTokenCount": 20,
        },
        "modelVersion": "gemini-2.5-flash",
        "responseId": "x3FxaPqZLtvb1MkPm8mQsAM",
    }


def responses_response(
    text: str = "", *, call: dict[str, Any] | None = None, summary: str | None = None
) -> dict[str, Any]:
    """A whole Responses API ``response`` object: reasoning, message, function call."""
    output: list[dict[str, Any]] = []
    if summary is not None:
        output.append(
            {
                "id": "rs_67ccd3",
                "type": "reasoning",
                "summary": [{"type": "summary_text", "text": summary}],
            }
        )
    if text:
        output.append(
            {
                "type": "message",
                "id": "msg_67ccd3",
                "status": "completed",
                "role": "assistant",
                "content": [{"type": "output_text", "text": text, "annotations": []}],
            }
        )
    if call is not None:
        output.append(
            {
                "type": "function_call",
                "id": "fc_67ca09",
                "call_id": "call_unLAR8",
                "name": call["name"],
                "arguments": call["arguments"],
                "status": "completed",
            }
        )
    return {
        "id": "resp_67ccd2bed1ec8190",
        "object": "response",
        "created_at": 1741476542,
        "status": "completed",
        "error": None,
        "incomplete_details": None,
        "model": "gpt-5-codex",
        "output": output,
        "parallel_tool_calls": True,
        "store": False,
        "usage": {
            "input_tokens": 36,
            "input_tokens_details": {"cached_tokens": 0},
            "output_tokens": 87,
            "output_tokens_details": {"reasoning_tokens": 0},
            "total_tokens": 123,
        },
    }
