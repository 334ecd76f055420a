"""course_utils: the finished, reusable versions of what the LLM Mechanics notebooks build.

Each notebook writes out the code it teaches; this package keeps the finished version so that later
notebooks import it instead of pasting it. One concept per module:

In the order the notebooks need them:

- ``storyworld``   a seeded story generator with exact log-probabilities and ground truth (00 onwards)
- ``checks``       auto-checked exercises: feedback that names the failing case, hints, a summary
- ``download``     fetch-with-checksum into a cache, with a clean offline fallback
- ``validation``   the small input checks the modules share
- ``ngram``        count-based n-gram language models (00)
- ``tokenizer_base`` the interface every tokenizer has: encode, decode, pieces, state (01)
- ``tokenizers``   character- and word-level tokenizers (01)
- ``bpe``          byte-level BPE (GPT-2/GPT-4 style), equal to tiktoken; the course's tokenizer (01)
- ``embeddings``   bag of words, TF-IDF, word2vec, and scoring vectors against storyworld's categories (02)
- ``positional``   sinusoidal, learned and rotary (RoPE) positions (02)
- ``attention``    scaled dot-product and multi-head attention, masks, MQA and GQA (03)
- ``coreference``  which attention head resolves pronouns, scored against storyworld (03)
- ``model``        a readable GPT (nanoGPT-style), the one model class of the course (04)
- ``train``        device selection, batches, the training loop, evaluation, a live loss plot (05)
- ``data``         windows of a token stream, other objectives' examples, deduplication and PII scrubbing (05)
- ``distributed``  the same training on several GPUs or processes with DistributedDataParallel (05)
- ``generate``     from logits to tokens: sampling, penalties, the KV cache, streaming (06)
- ``finetune``     a classification head, instruction data with a response-only loss (07)
- ``lora``         low-rank adaptation of linear layers (07)
- ``align``        a reward model, DPO and a compact PPO step (08)
- ``metrics``      evaluation metrics, each proved equal to the library it is cited from (09)
- ``corpus``       real documents for the capstone: reading, curation, a split by document, a task (10)
- ``compression``  gzip, bz2 and lzma as baselines in bits per character (10)
- ``diagrams``     pictures of mechanisms drawn before they are built: attention, the residual stream, the KV
  cache, LoRA, DPO (03, 04, 06, 07, 08)
- ``widgets``      the interactive views (next-token explorer, BPE stepper, tokenizer playground,
  embedding explorer, attention viewer, decoding explorer)
"""

__version__ = "0.1.0"
