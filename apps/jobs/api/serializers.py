from rest_framework import serializers

from apps.jobs.models import Job


class JobSerializer(serializers.ModelSerializer):
    done = serializers.BooleanField(source="is_done", read_only=True)

    class Meta:
        model = Job
        fields = [
            "id",
            "kind",
            "subject_type",
            "subject_id",
            "status",
            "progress",
            "done",
            "steps",
            "error",
            "attempts",
            "created_at",
            "started_at",
            "finished_at",
        ]
