"""course_utils: the finished, reusable versions of what the LLM Mechanics notebooks build.

Each notebook writes out the code it teaches; this package keeps the finished version so that later
notebooks import it instead of pasting it. One concept per module:

- ``storyworld``  a seeded story generator with exact log-probabilities and ground-truth annotations
- ``tokenizers``  turning text into token IDs and back
- ``bpe``         byte-level BPE (GPT-2/GPT-4 style), equal to tiktoken; the course's tokenizer
- ``model``       a readable GPT (nanoGPT-style), the one model class of the course
- ``train``       device selection and a small training loop
- ``download``    fetch-with-checksum into a cache, with a clean offline fallback
- ``checks``      auto-checked exercises with hints
"""

__version__ = "0.1.0"
