# The production image: gunicorn serving Django; the same image runs the Celery worker and beat.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1
WORKDIR /app

RUN useradd --create-home --uid 1000 godview
COPY pyproject.toml README.md ./
COPY godview ./godview
COPY clients ./clients
COPY workflows ./workflows
COPY metrics ./metrics
COPY integrations ./integrations
RUN pip install .
COPY manage.py ./
COPY templates ./templates
COPY static ./static
# collectstatic needs settings, not secrets: a throwaway key for this one command.
RUN SECRET_KEY=collectstatic-only DATABASE_URL=postgres://x@localhost/x \
    python manage.py collectstatic --noinput

USER godview
EXPOSE 8000
CMD ["gunicorn", "godview.wsgi", "--bind", "0.0.0.0:8000", "--workers", "3", "--access-logfile", "-"]
