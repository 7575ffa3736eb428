from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import mixins, serializers, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from apps.notices.models import Notice
from apps.notices.selectors import notices_of
from apps.notices.services import notice_mark_read, notices_mark_all_read


class NoticeSerializer(serializers.ModelSerializer):
    class Meta:
        model = Notice
        fields = ["id", "kind", "event", "title", "body", "url", "object_type", "object_id"]
        fields += ["created_at", "read_at"]
        read_only_fields = fields


class NoticeViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """The signed-in user's own notices, newest first (``?unread=1`` for unread ones only)."""

    serializer_class = NoticeSerializer

    def get_queryset(self):
        qs = notices_of(self.request.user)
        if self.request.query_params.get("unread") in ("1", "true"):
            qs = qs.filter(read_at__isnull=True)
        return qs

    @extend_schema(request=None)
    @action(detail=True, methods=["post"])
    def read(self, request, pk=None):
        notice = self.get_object()  # another's notice: 404
        notice_mark_read(user=request.user, notice_id=notice.pk)
        notice.refresh_from_db()
        return Response(self.get_serializer(notice).data)

    @extend_schema(
        request=None,
        responses=inline_serializer("NoticesMarkedRead", {"marked_read": serializers.IntegerField()}),
    )
    @action(detail=False, methods=["post"], url_path="read-all")
    def read_all(self, request):
        return Response({"marked_read": notices_mark_all_read(user=request.user)})
