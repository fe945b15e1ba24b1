# The streaming template's image: the batch image (Dockerfile beside this one) with the
# launcher pointed at the streaming entry point. One extra layer, nothing rebuilt.
#   docker build -f deploy/flex-template/streaming.Dockerfile --build-arg BASE_IMAGE=$IMAGE -t $IMAGE-streaming .
ARG BASE_IMAGE
FROM ${BASE_IMAGE}

ARG WORKDIR=/template
ENV FLEX_TEMPLATE_PYTHON_PY_FILE="${WORKDIR}/main_streaming.py"
