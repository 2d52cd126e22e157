# One image per example: the project installed with the extra of the example it runs.
#   docker build --build-arg EXTRAS=openai-agents --build-arg EXAMPLE=examples/openai_agents/app.py \
#       -t dapr-agents-durable/weather-agent:0.1.0 .      # docker compose build builds them all
# Under a Dapr sidecar (compose, Kubernetes) the app finds it through DAPR_GRPC_ENDPOINT/DAPR_GRPC_PORT;
# model keys come from the environment (a Kubernetes Secret, the compose env), never from the image.
FROM python:3.11.11-slim-bookworm

ARG EXTRAS=openai-agents
ARG EXAMPLE=examples/openai_agents/app.py

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    EXAMPLE=${EXAMPLE}

RUN useradd --create-home --uid 10001 agent
WORKDIR /app

COPY pyproject.toml README.md ./
COPY dapr_agents_durable ./dapr_agents_durable
RUN pip install ".[${EXTRAS}]"
COPY examples ./examples

USER 10001
# The embedded engine's database, for runs without a sidecar (DAPR_AGENTS_DURABLE_DB).
ENV DAPR_AGENTS_DURABLE_DB=/home/agent/engine.db
CMD ["sh", "-c", "exec python \"$EXAMPLE\""]
